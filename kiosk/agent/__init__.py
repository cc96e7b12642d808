"""The kiosk agent: prints the tickets its kiosk issues on the kiosk's ESC/POS printer.

Run ``python -m kiosk.agent --config kiosk-agent.toml``; see docs/kiosk-agent.md.
"""
