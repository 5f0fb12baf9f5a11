import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()
# Everything loaded so far (Django, the app, their modules) lives as long as the process: kept out
# of the garbage collector's full collections, which would otherwise walk it every few hundred
# requests (27 ms each in bench/load.py --profile).
gc.freeze()
