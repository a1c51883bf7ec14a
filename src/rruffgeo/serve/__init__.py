"""The local web page: ``rruffgeo serve``."""
