"""The domain and the service layer. Never imports Textual."""
