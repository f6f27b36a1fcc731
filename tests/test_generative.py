"""The sampling contract of generative models (pixelsmith.models.generative): declared options are converted
to their types and checked against their range; anything else is a usage error that lists what is accepted."""

import pytest
import torch.nn as nn

from pixelsmith import UsageError
from pixelsmith.models.generative import (
    SampleOption,
    check_sample_options,
    sample_options,
)


class Sampler(nn.Module):
    sample_options = {
        "steps": SampleOption(int, 50, "sampling steps", minimum=1, maximum=1000),
        "guidance": SampleOption(float, 1.0, "guidance strength", minimum=0.0),
        "sampler": SampleOption(str, "ddim", "the sampler"),
    }


def test_options_are_converted_to_their_types():
    checked = check_sample_options(Sampler(), {"steps": "20", "guidance": 3, "sampler": "ddpm"})
    assert checked == {"steps": 20, "guidance": 3.0, "sampler": "ddpm"}
    assert type(checked["steps"]) is int and type(checked["guidance"]) is float
    assert check_sample_options(Sampler(), {}) == {}


def test_declared_options_are_a_copy():
    model = Sampler()
    options = sample_options(model)
    options.pop("steps")
    assert set(sample_options(model)) == {"steps", "guidance", "sampler"}
    assert sample_options(nn.Identity()) == {}


@pytest.mark.parametrize("options,words", [
    ({"steps": 0}, "steps=0 is out of range; accepted: 1 to 1000"),
    ({"steps": 1001}, "steps=1001 is out of range"),
    ({"guidance": -1}, "guidance=-1 is out of range"),
    ({"steps": "many"}, "steps=many is not a valid int"),
    ({"label": 3}, ("label=3: this model takes no sampling option 'label'; accepted: steps (sampling steps), "
                    "guidance (guidance strength), sampler (the sampler)")),
])
def test_bad_options_name_the_parameter(options, words):
    with pytest.raises(UsageError) as info:
        check_sample_options(Sampler(), options)
    assert words in str(info.value)


def test_a_model_without_options_accepts_none():
    with pytest.raises(UsageError, match="accepted: none"):
        check_sample_options(nn.Identity(), {"temperature": 1})
