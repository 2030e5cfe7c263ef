"""Intake: every channel's raw payload into one normalized report.

Pure except `hotline_callback`, the one outbound HTTP client (status back to the 12345 platform);
no SQL, no settings.
"""
