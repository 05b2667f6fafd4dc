"""Invalidations stay within the gateway's own Redis database: pub/sub channels span every database of
a server, so a gateway sharing the server on another database (or another key prefix) must not drop our
key and route snapshots, nor we its."""

import redis

from routing.invalidation import channel


def test_the_channel_names_the_database_and_the_key_prefix(settings):
    settings.CACHES = {"default": {**settings.CACHES["default"], "KEY_PREFIX": "team-a"}}
    four, five = (redis.Redis.from_url(f"redis://127.0.0.1:6379/{n}") for n in (4, 5))
    assert channel(four) == "team-a:4:invalidate"
    assert channel(five) == "team-a:5:invalidate"


def test_another_key_prefix_on_the_same_database_has_its_own_channel(settings):
    client = redis.Redis.from_url("redis://127.0.0.1:6379/4")
    settings.CACHES = {"default": {**settings.CACHES["default"], "KEY_PREFIX": "staging"}}
    staging = channel(client)
    settings.CACHES = {"default": {**settings.CACHES["default"], "KEY_PREFIX": "production"}}
    assert channel(client) != staging
