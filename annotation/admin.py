from django.contrib import admin

from annotation.models import Entity, Event, Label, Mention, SuppressedSuggestion


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


@admin.register(Entity)
class EntityAdmin(admin.ModelAdmin):
    """Confirmed entities are also the pre-tagger's learnt patterns: names and aliases here are
    matched in every new import and re-tag."""

    list_display = ["name", "label", "aliases", "mention_count", "updated_at"]
    list_filter = ["label"]
    search_fields = ["name", "aliases"]
    readonly_fields = ["keys", "created_by", "created_at", "updated_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).with_mention_counts().select_related("label")

    @admin.display(ordering="mention_count")
    def mention_count(self, entity):
        return entity.mention_count


@admin.register(SuppressedSuggestion)
class SuppressedSuggestionAdmin(admin.ModelAdmin):
    """Texts analysts keep rejecting with a label. Active ones are no longer suggested; an admin
    can switch any of them, which pins it against automatic counting."""

    list_display = ["text", "label", "rejections", "confirmations", "active", "pinned", "updated_at"]
    list_filter = ["active", "pinned", "label"]
    list_editable = ["active"]
    search_fields = ["text"]
    readonly_fields = ["rejections", "confirmations", "updated_at"]

    def save_model(self, request, obj, form, change):
        if change and "active" in form.changed_data:
            obj.pinned = True
        super().save_model(request, obj, form, change)
