"""Start the whole sample museum on loopback: the Met API and image host, Flickr, Wikimedia Commons.

One server, one port, every service under its real path, so each crawler only needs its base URL
pointed at `server.url`. Flickr and Commons join when their modules are installed.
"""

from __future__ import annotations

import importlib
import importlib.util

from metdata.sample.met_api import MetService
from metdata.sample.model import World
from metdata.sample.server import SampleServer

OPTIONAL_SERVICES = (("metdata.sample.flickr_api", "FlickrService"), ("metdata.sample.commons_api", "CommonsService"))


def start_sample_server(world: World | None = None, seed: int = 0, host: str = "127.0.0.1",
                        port: int = 0) -> SampleServer:
    """A started server over `world` (built from `seed` when not given); call `.stop()` when done.

    Attributes for the crawlers: `.met_api_url`, `.flickr_rest_url`, `.flickr_static_url`,
    `.commons_api_url`, and `.world` for ground truth.
    """
    if world is None:
        from metdata.sample.world import build_world

        world = build_world(seed)
    services = [MetService(world)]
    for module_name, class_name in OPTIONAL_SERVICES:
        if importlib.util.find_spec(module_name) is not None:
            services.append(getattr(importlib.import_module(module_name), class_name)(world))
    server = SampleServer(services, host=host, port=port).start()
    server.world = world
    server.met_api_url = server.url + "/public/collection"
    server.flickr_rest_url = server.url + "/services/rest/"
    server.flickr_static_url = server.url + "/flickr-static"
    server.commons_api_url = server.url + "/w/api.php"
    return server
