import pytest

import course_lib as cl


@pytest.mark.parametrize("profile,held,verdict", [("cpu", True, "held"), ("cpu", False, "DID NOT HOLD"),
                                                  ("gpu", False, "DID NOT HOLD"), ("smoke", False, "not judged (smoke)")])
def test_claim_prints_its_verdict_and_numbers(capsys, profile, held, verdict):
    cl.setup(seed=0, profile=profile, quiet=True)
    assert cl.claim("ResNet-26 ends below plain-26", held, resnet=0.1423, plain=0.215, n=8000) is held
    assert capsys.readouterr().out == f"claim: ResNet-26 ends below plain-26: {verdict} (resnet=0.1423, plain=0.215, n=8,000)\n"
    cl.setup(seed=0, profile="smoke", quiet=True)


def test_claim_needs_a_sentence():
    with pytest.raises(ValueError, match="needs its sentence"):
        cl.claim("", True)


def test_the_committed_outputs_test_catches_a_failed_claim():
    from tests.notebooks import test_committed_outputs as t

    nb = {"cells": [{"cell_type": "code", "source": "", "execution_count": 1,
                     "outputs": [{"output_type": "stream", "name": "stdout",
                                  "text": "claim: dropout narrows the gap: DID NOT HOLD (gap=0.1)\n"}]}]}
    with pytest.raises(AssertionError, match="did not hold"):
        t.test_no_committed_claim_failed(nb)
    nb["cells"][0]["outputs"][0]["text"] = "claim: dropout narrows the gap: held (gap=0.01)\n"
    t.test_no_committed_claim_failed(nb)
