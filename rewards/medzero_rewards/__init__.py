"""medzero-rewards: one scorer per medical task, shared by RL rewards and evaluation metrics."""

from medzero_rewards.base import Scorer
from medzero_rewards.registry import ScorerConfigError, get_scorer, list_scorers, register_scorer
from medzero_rewards.types import Score, ScoreBatch, Status, Tier

__all__ = [
    "Scorer",
    "Score",
    "ScoreBatch",
    "ScorerConfigError",
    "Status",
    "Tier",
    "get_scorer",
    "list_scorers",
    "register_scorer",
]
__version__ = "0.1.0"
