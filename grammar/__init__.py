"""The lark grammar of the policy language (``policy.lark``), shipped as package data."""
