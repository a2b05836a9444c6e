"""``python -m demo``: the whole pipeline on one machine (what ``make demo`` runs)."""
