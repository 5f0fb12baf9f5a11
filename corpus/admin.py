from django.contrib import admin

from corpus.models import Article, ImportBatch, Source


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = ["name", "reliability", "url"]
    list_filter = ["reliability"]
    search_fields = ["name"]


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    list_display = ["title", "source", "status", "published", "created_at"]
    list_filter = ["status", "source"]
    search_fields = ["title", "byline"]
    list_select_related = ["source"]
    raw_id_fields = ["batch"]
    # The text never changes once stored: mention offsets point into it.
    readonly_fields = ["text", "text_hash", "body_start", "body_end", "created_at", "updated_at"]

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj else ["text_hash", "body_start", "body_end"]


@admin.register(ImportBatch)
class ImportBatchAdmin(admin.ModelAdmin):
    list_display = ["pk", "created_at", "created_by", "status", "stored", "duplicates", "failed"]
    readonly_fields = ["created_by", "created_at", "files", "status", "stored", "duplicates",
                       "failed", "errors"]
