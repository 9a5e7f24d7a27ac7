"""``python -m medzero_train`` (used by ``accelerate launch -m medzero_train``)."""

from medzero_train.cli import main

main()
