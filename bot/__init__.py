"""Signpost: a safe, plain-language chatbot about online child sexual abuse and exploitation."""

__version__ = "0.1.0"
