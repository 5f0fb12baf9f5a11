"""Entry point for Dramatiq workers: `dramatiq config.worker`.

Boots Django (which installs the configured broker) and imports every app's tasks module.
"""

import django
from django.utils.module_loading import autodiscover_modules

django.setup()
autodiscover_modules("tasks")
