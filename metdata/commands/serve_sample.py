"""`metdata serve-sample`: run the sample museum's stand-in services in the foreground."""

import time

import click


@click.command("serve-sample")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="Loopback port to listen on (0: any free port).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the generated sample museum.")
@click.option("--original-px", type=click.IntRange(min=64), default=None,
              help="Longest side of the Met 'original' images in pixels [default: 1000-1400 per object].")
def serve_sample(port: int, seed: int, original_px: int | None):
    """Serve the sample museum on 127.0.0.1 until Ctrl-C: the Met Collection API and its image host,
    Flickr's REST API and static host, and Wikimedia Commons' Action API, all on one port.

    The crawlers reach it through their base-URL options, exactly as they reach the live services:

    \b
      metdata serve-sample --port 8765 &
      metdata crawl met --out data --api-url http://127.0.0.1:8765/public/collection
    """
    from metdata.sample.services import start_sample_server
    from metdata.sample.world import build_world

    try:
        server = start_sample_server(world=build_world(seed, original_px=original_px), port=port)
    except OSError as exc:
        from metdata.errors import UserError

        raise UserError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}") from None
    world = server.world
    click.echo(f"Sample museum (seed {seed}) at {server.url}: {len(world.objects)} Met objects, "
               f"{len(world.photos)} Flickr photos, {len(world.commons_files)} Commons files")
    for name, url, how in [
        ("Met API", server.met_api_url, "metdata crawl met --api-url URL"),
        ("Flickr REST", server.flickr_rest_url, "metdata crawl flickr --rest-url URL"),
        ("Flickr static", server.flickr_static_url, "(photo URLs in the Flickr answers point here)"),
        ("Commons API", server.commons_api_url, "metdata crawl wikimedia --api-url URL"),
    ]:
        click.echo(f"  {name:<14}{url}\n  {'':<14}{how}")
    click.echo("Press Ctrl-C to stop.")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        click.echo("stopped")
    finally:
        server.stop()
