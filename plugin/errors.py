"""Exception hierarchy of the dynamic-interest plugin.

PersonalizationError
 ├── ConfigError          a setting is missing or malformed (names the variable)
 ├── MappingError         index mapping or _meta is missing, malformed or mismatched
 ├── WeightsError         blend weights are invalid (negative, NaN, unknown key, all zero)
 ├── EncoderError         the encoder failed or produced vectors of the wrong shape
 ├── InputError           one input (text, event, item, vector) is unusable
 ├── ProfileNotFound      no interest document for a user
 └── ServiceUnavailable   Elasticsearch, Redis or the workers cannot be reached

Every exception takes simple arguments so it pickles across Celery.
"""

from __future__ import annotations


class PersonalizationError(Exception):
    """Base class of every error this project raises on purpose."""


class ConfigError(PersonalizationError):
    """A setting is missing or malformed."""


class MappingError(PersonalizationError):
    """An index mapping or its _meta is missing, malformed or mismatched."""


class WeightsError(PersonalizationError):
    """Blend weights failed validation."""


class EncoderError(PersonalizationError):
    """The encoder failed or returned vectors of the wrong shape."""


class InputError(PersonalizationError):
    """One input is unusable; the rest of its batch is unaffected."""


class ProfileNotFound(PersonalizationError):
    """No interest document exists for the user."""


class ServiceUnavailable(PersonalizationError):
    """A backing service cannot be reached; the message says how to start it."""
