"""Submissions in an exchange of this process's own user (who owns what it writes): the inbound folders the
collect tests (test_inbound, test_inbound_exchange) read, one honest notebook each."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from lrcourse.grading.exchange.inbound import read_submission, user_name
from lrcourse.grading.exchange.inbound_folder import Exchange

from support import hostile
from support.course import NOTEBOOK

CHAPTER = hostile.CHAPTER
FILE = NOTEBOOK[CHAPTER]
# the smallest notebook `lrcourse grade` reads (collect refuses one it could not: `broken_submit`)
HONEST = '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'


def inbound_folder(tmp_path: Path, stamp: str = "2026-01-01 00:00:00.000000 UTC") -> tuple[Path, str]:
    """An inbound folder of this process's own user (who owns what it writes), with an honest notebook."""
    name = f"{user_name(os.geteuid())}+{CHAPTER}+{stamp}+x"
    (tmp_path / name).mkdir()
    (tmp_path / name / FILE).write_text(HONEST)
    (tmp_path / name / "submission_secret.txt").write_text(secrets.token_hex(64))  # nbgrader submit ends so
    return tmp_path / name, name


def exchange_course(tmp_path: Path) -> tuple[Path, Exchange]:
    """A course with the chapter's source notebook, and an exchange of this process's own user."""
    (tmp_path / "source" / CHAPTER).mkdir(parents=True)
    (tmp_path / "source" / CHAPTER / FILE).write_text('{"the instructor\'s": "solution"}')
    exchange = Exchange(tmp_path / "exchange", "lr-schedules")
    exchange.inbound.mkdir(parents=True)
    exchange.inbound.chmod(0o3733)  # as the README's set-up makes it: collect notes a listable or unsticky one
    return tmp_path, exchange


def read_inbound(folder: Path, name: str, limit: int = 1 << 20):
    """The submission `name` in the inbound `folder`, as lrcourse collect reads it (its notebook `FILE`)."""
    inbound = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return read_submission(inbound, name, CHAPTER, {FILE}, limit)
    finally:
        os.close(inbound)
