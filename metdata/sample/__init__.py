"""The sample museum: a seeded world of artworks, visitor photos and distractors with ground truth,
and loopback servers that speak the Met, Flickr and Wikimedia Commons APIs byte for byte.

Production code never imports this package (the `demo` and `serve-sample` commands are the exception).
"""
