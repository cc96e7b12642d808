"""The HTTP edge: Starlette routes, authentication, error translation."""
