"""Erasing a concept from a layer (LEACE, Belrose et al. 2023) and a random subspace of the same
rank (the control of Elazar et al. 2021), as edits the encoder applies on the way through."""
