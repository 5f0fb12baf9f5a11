import dramatiq

from corpus import importing


# A batch of 10,000 articles stores in seconds, but its files may be large: a generous limit. A
# message redelivered after a worker died runs the batch again, which finishes what is left.
@dramatiq.actor(max_retries=3, time_limit=60 * 60 * 1000)
def import_batch(batch_id: int) -> None:
    importing.run(batch_id)
