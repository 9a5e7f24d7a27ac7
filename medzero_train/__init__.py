"""medzero_train: TRL GRPO training with medzero_rewards scorers as reward functions."""
