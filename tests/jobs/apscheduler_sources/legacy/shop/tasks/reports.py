async def nightly_report() -> None:
    """Build yesterday's sales report."""


def prune_carts() -> None:
    """Delete carts abandoned for 30 days.

    Runs in batches.
    """


def rebuild_index() -> None:
    pass
