"""Tests of the zone's web page, `GET /ui`: as served, and driven in a headless Chromium."""
