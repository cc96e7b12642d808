"""Voice calls: announcement texts and audio URLs, speech engines, the audio cache, zone feeds.

Deliberately imports nothing: ``server.config`` checks clips with ``server.voice.clips`` and
must be able to import it without pulling in the rest (which depends on the config).
"""
