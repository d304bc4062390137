"""Delivery as written: fidelity logs and observations of live sessions, and skills
scored in class."""
