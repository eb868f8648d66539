"""Textual screens. They call cxdesk.workflow for data and never write SQL."""
