"""ScalarMix, span pooling, the edge-probing classifier and its training regimen."""
