"""A self-hosted live chat for Wagtail sites."""

__version__ = "0.1.0"
