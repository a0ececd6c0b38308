"""Which layers of a pretrained encoder hold which linguistic knowledge: probing, end to end."""

__version__ = "0.1.0"
