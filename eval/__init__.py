"""Evaluation harness: golden questions, offline metrics, a regression gate, reports (`rag eval`)."""
