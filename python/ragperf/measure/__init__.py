"""Measuring helpers: timing, process memory and resources, token counting,
usage from model responses, pricing and streamed responses.
"""
