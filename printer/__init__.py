"""Chinese tickets on ESC/POS printers: render, preview, send, status, and a virtual printer.

The server's entry points are listed in docs/printer.md ("Calling it from the server").
"""
