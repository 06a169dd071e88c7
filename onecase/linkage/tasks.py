"""Work done by the job worker (django-q2) for linkage. Logs carry claims and counts only."""

from __future__ import annotations

from onecase.linkage.jobs import link_waiting, links_recover


def run_waiting_links() -> dict:
    """Link every waiting link request (``onecase.linkage.services.link_soon``), one run at a time."""
    return {"runs": len(link_waiting())}


def recover_links() -> dict:
    """Run every minute by the worker's schedule: give up on links whose worker died, queue waiting ones."""
    return {"stopped": links_recover()}
