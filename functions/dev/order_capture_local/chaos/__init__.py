"""The fault campaign (``make chaos``): the event campaign (``events``) and the API campaign
(``api``, ``api_run``, ``api_verdict``) in one run; ``main`` runs and renders them."""

from order_capture_local.chaos.main import OUTCOME_FIGURES, main, run_campaign

__all__ = ["OUTCOME_FIGURES", "main", "run_campaign"]
