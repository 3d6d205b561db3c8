"""The local runtime's corrections of moto apply only to the moto they were written for."""

from __future__ import annotations

import moto
import pytest

from order_capture_local import moto_corrections


def test_the_corrections_refuse_a_moto_they_were_not_written_for() -> None:
    # Given a moto release other than the one the corrections were checked against
    with pytest.raises(RuntimeError, match=r"moto 5\.3\.0"):
        # Then applying them stops with the version to re-check
        moto_corrections.check_moto_version("5.3.0")


def test_the_installed_moto_is_the_one_corrected_and_every_correction_applies() -> None:
    # Given the installed moto
    patched: list[tuple[object, str]] = []

    # When the corrections are applied with a recording patch
    moto_corrections.apply(lambda owner, name, _replacement: patched.append((owner, name)))

    # Then each correction found the moto internal it replaces
    assert moto.__version__.startswith(moto_corrections.CORRECTED_MOTO)
    assert [name for _, name in patched] == [
        "send_task_failure",
        "_normalise_parameters",
        "notify",
        "_eval_body",
    ]
    assert all(hasattr(owner, name) for owner, name in patched)
