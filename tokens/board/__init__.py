"""The board for people: views, the JSON API, the websocket consumer and its guards, CSV, limits."""
