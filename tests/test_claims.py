"""The notebooks' claim checks: printed with their numbers, raised when they fail."""
import pytest
import torch

from xai_gan import claims, profiles


def test_a_claim_that_holds_is_printed_with_its_numbers(capsys):
    claims.check(torch.tensor(0.7) > 0.5, "the GAN beats chance", gan=torch.tensor(0.7),
                 chance=1 / 6, images=100)
    assert capsys.readouterr().out == (f"{claims.HOLDS} the GAN beats chance "
                                       "(gan = 0.7, chance = 0.167, images = 100)\n")


@pytest.mark.parametrize("profile", ["full", "ci"])
def test_a_claim_that_fails_raises_with_its_numbers_at_any_size(monkeypatch, profile):
    monkeypatch.setenv(profiles.PROFILE_ENV, profile)
    with pytest.raises(claims.ClaimFailed, match=r"does not hold: A beats B \(a = 0.123, b = 0.2\)"):
        claims.check(0.1234 > 0.2, "A beats B", a=0.1234, b=0.2)


def test_a_full_size_claim_is_unchecked_below_full_size_and_raised_at_it(monkeypatch, capsys):
    monkeypatch.setenv(profiles.PROFILE_ENV, "ci")
    claims.check(False, "most images above 0.99", full_size=True, share=0.04)
    assert capsys.readouterr().out.startswith(f"{claims.UNCHECKED} most images above 0.99")
    claims.check(True, "it holds anyway", full_size=True)
    assert capsys.readouterr().out.startswith(claims.HOLDS)
    monkeypatch.setenv(profiles.PROFILE_ENV, "full")
    with pytest.raises(claims.ClaimFailed):
        claims.check(False, "most images above 0.99", full_size=True)


def test_pick_gives_the_current_profile_s_size_or_names_the_missing_one(monkeypatch):
    monkeypatch.setenv(profiles.PROFILE_ENV, "ci")
    assert profiles.pick(full=100, ci=4) == 4
    monkeypatch.delenv(profiles.PROFILE_ENV)
    assert profiles.pick(full=100, ci=4) == 100
    monkeypatch.setenv(profiles.PROFILE_ENV, "main")
    with pytest.raises(ValueError, match="'main'.*'ci', 'full'"):
        profiles.pick(full=100, ci=4)

