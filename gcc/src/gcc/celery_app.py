"""The GCC's Celery app, alone in a leaf module.

The runtime sends tasks through it and the worker configures it; neither imports the other.
"""

from celery import Celery

celery_app = Celery("gcc")
