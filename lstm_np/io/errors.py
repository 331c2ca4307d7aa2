"""The one error of ``lstm_np.io``: a saved file that cannot be used."""

__all__ = ["ModelFileError"]


class ModelFileError(ValueError):
    """A saved file is missing, corrupted, or does not match its description."""
