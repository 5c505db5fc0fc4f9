"""Tests of tokens/board: the page, the API, the websocket, guards, and the board in a real browser."""
