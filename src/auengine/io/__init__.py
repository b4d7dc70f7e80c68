"""Input/output: media, tables, (later) manifests."""
