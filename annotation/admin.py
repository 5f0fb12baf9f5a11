from django.contrib import admin

from annotation.models import Event, Label, Mention


@admin.register(Label)
class LabelAdmin(admin.ModelAdmin):
    list_display = ["name", "marker", "key", "colour", "spacy_labels", "order"]
    list_editable = ["order"]


@admin.register(Mention)
class MentionAdmin(admin.ModelAdmin):
    list_display = ["text", "label", "status", "origin", "article", "decided_by", "version"]
    list_filter = ["label", "status", "origin"]
    search_fields = ["text"]
    list_select_related = ["label", "article", "decided_by"]
    raw_id_fields = ["article"]
    readonly_fields = ["version", "decided_by", "decided_at"]


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    """The audit log: readable, never editable."""

    list_display = ["created_at", "actor", "action", "subject_type", "subject_id", "article"]
    list_filter = ["action"]
    list_select_related = ["actor", "article"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
