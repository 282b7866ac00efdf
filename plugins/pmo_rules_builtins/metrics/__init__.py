"""Built-in pmo-rules plugins, registered through the `pmo_rules` entry-point group like any third-party plugin."""
