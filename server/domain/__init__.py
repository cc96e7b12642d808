"""The pure domain core: no I/O, no framework imports; state + clock in, state + events out."""
