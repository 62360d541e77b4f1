"""Shared test set-up: plots off-screen, results in a temporary folder."""
import os

os.environ.setdefault("MPLBACKEND", "Agg")
