//! Diesel table definitions, shared by SQLite and PostgreSQL (`migrations/<backend>/`).

diesel::table! {
    tenants (name) {
        name -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    tenant_configs (tenant, conf_key) {
        tenant -> Text,
        conf_key -> Text,
        conf_value -> Text,
        created_at -> BigInt,
        created_by -> Text,
        last_modified_at -> BigInt,
        last_modified_by -> Text,
    }
}

diesel::table! {
    users (id) {
        id -> BigInt,
        tenant -> Text,
        username -> Text,
        password_hash -> Text,
        permissions -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    target_types (id) {
        id -> BigInt,
        tenant -> Text,
        type_key -> Text,
        name -> Text,
        description -> Nullable<Text>,
        colour -> Nullable<Text>,
        created_at -> BigInt,
        created_by -> Text,
        last_modified_at -> BigInt,
        last_modified_by -> Text,
    }
}

diesel::table! {
    sm_types (id) {
        id -> BigInt,
        tenant -> Text,
        type_key -> Text,
        name -> Text,
        description -> Nullable<Text>,
        colour -> Nullable<Text>,
        max_assignments -> Integer,
        min_artifacts -> Integer,
        deleted -> Bool,
        created_at -> BigInt,
        created_by -> Text,
        last_modified_at -> BigInt,
        last_modified_by -> Text,
    }
}

diesel::table! {
    ds_types (id) {
        id -> BigInt,
        tenant -> Text,
        type_key -> Text,
        name -> Text,
        description -> Nullable<Text>,
        colour -> Nullable<Text>,
        deleted -> Bool,
        created_at -> BigInt,
        created_by -> Text,
        last_modified_at -> BigInt,
        last_modified_by -> Text,
    }
}

diesel::table! {
    ds_type_sm_types (ds_type_id, sm_type_id) {
        ds_type_id -> BigInt,
        sm_type_id -> BigInt,
        mandatory -> Bool,
    }
}

diesel::table! {
    software_modules (id) {
        id -> BigInt,
        tenant -> Text,
        sm_type_id -> BigInt,
        name -> Text,
        version -> Text,
        vendor -> Nullable<Text>,
        description -> Nullable<Text>,
        encrypted -> Bool,
        locked -> Bool,
        deleted -> Bool,
        created_at -> BigInt,
        created_by -> Text,
        last_modified_at -> BigInt,
        last_modified_by -> Text,
    }
}

diesel::table! {
    sm_metadata (sm_id, meta_key) {
        sm_id -> BigInt,
        meta_key -> Text,
        meta_value -> Text,
        target_visible -> Bool,
    }
}

diesel::table! {
    artifacts (id) {
        id -> BigInt,
        sm_id -> BigInt,
        filename -> Text,
        size -> BigInt,
        sha1 -> Text,
        md5 -> Text,
        sha256 -> Text,
        created_at -> BigInt,
        created_by -> Text,
        last_modified_at -> BigInt,
        last_modified_by -> Text,
        image_sha256 -> Nullable<Text>,
        patch_source_sha256 -> Nullable<Text>,
    }
}

diesel::table! {
    distribution_sets (id) {
        id -> BigInt,
        tenant -> Text,
        ds_type_id -> BigInt,
        name -> Text,
        version -> Text,
        description -> Nullable<Text>,
        required_migration_step -> Bool,
        locked -> Bool,
        deleted -> Bool,
        valid -> Bool,
        created_at -> BigInt,
        created_by -> Text,
        last_modified_at -> BigInt,
        last_modified_by -> Text,
    }
}

diesel::table! {
    ds_modules (ds_id, sm_id) {
        ds_id -> BigInt,
        sm_id -> BigInt,
    }
}

diesel::table! {
    targets (id) {
        id -> BigInt,
        tenant -> Text,
        controller_id -> Text,
        name -> Text,
        description -> Nullable<Text>,
        security_token -> Text,
        address -> Nullable<Text>,
        last_poll -> Nullable<BigInt>,
        update_status -> Text,
        assigned_ds_id -> Nullable<BigInt>,
        installed_ds_id -> Nullable<BigInt>,
        installation_date -> Nullable<BigInt>,
        request_attributes -> Bool,
        target_type_id -> Nullable<BigInt>,
        auto_confirm_at -> Nullable<BigInt>,
        auto_confirm_initiator -> Nullable<Text>,
        auto_confirm_remark -> Nullable<Text>,
        created_at -> BigInt,
        created_by -> Text,
        last_modified_at -> BigInt,
        last_modified_by -> Text,
        target_group -> Nullable<Text>,
        auto_assign_pending -> Bool,
    }
}

diesel::table! {
    target_attributes (target_id, attr_key) {
        target_id -> BigInt,
        attr_key -> Text,
        attr_value -> Text,
    }
}

diesel::table! {
    actions (id) {
        id -> BigInt,
        tenant -> Text,
        target_id -> BigInt,
        ds_id -> BigInt,
        active -> Bool,
        action_type -> Text,
        forced_time -> BigInt,
        weight -> Integer,
        status -> Text,
        maintenance_schedule -> Nullable<Text>,
        maintenance_duration -> Nullable<Text>,
        maintenance_timezone -> Nullable<Text>,
        initiated_by -> Text,
        last_status_code -> Nullable<Integer>,
        external_ref -> Nullable<Text>,
        revision -> Integer,
        created_at -> BigInt,
        created_by -> Text,
        last_modified_at -> BigInt,
        last_modified_by -> Text,
        rollout_id -> Nullable<BigInt>,
        rollout_group_id -> Nullable<BigInt>,
        last_message -> Text,
    }
}

diesel::table! {
    action_statuses (id) {
        id -> BigInt,
        action_id -> BigInt,
        status -> Text,
        occurred_at -> BigInt,
        created_at -> BigInt,
        code -> Nullable<Integer>,
    }
}

diesel::table! {
    action_status_messages (id) {
        id -> BigInt,
        action_status_id -> BigInt,
        message -> Text,
    }
}

diesel::table! {
    target_tags (id) {
        id -> BigInt,
        tenant -> Text,
        name -> Text,
        description -> Nullable<Text>,
        colour -> Nullable<Text>,
        created_at -> BigInt,
        created_by -> Text,
        last_modified_at -> BigInt,
        last_modified_by -> Text,
    }
}

diesel::table! {
    target_tag_assignments (tag_id, target_id) {
        tag_id -> BigInt,
        target_id -> BigInt,
    }
}

diesel::table! {
    ds_tags (id) {
        id -> BigInt,
        tenant -> Text,
        name -> Text,
        description -> Nullable<Text>,
        colour -> Nullable<Text>,
        created_at -> BigInt,
        created_by -> Text,
        last_modified_at -> BigInt,
        last_modified_by -> Text,
    }
}

diesel::table! {
    ds_tag_assignments (tag_id, ds_id) {
        tag_id -> BigInt,
        ds_id -> BigInt,
    }
}

diesel::table! {
    target_metadata (target_id, meta_key) {
        target_id -> BigInt,
        meta_key -> Text,
        meta_value -> Text,
    }
}

diesel::table! {
    ds_metadata (ds_id, meta_key) {
        ds_id -> BigInt,
        meta_key -> Text,
        meta_value -> Text,
    }
}

diesel::table! {
    target_type_ds_types (target_type_id, ds_type_id) {
        target_type_id -> BigInt,
        ds_type_id -> BigInt,
    }
}

diesel::table! {
    target_filter_queries (id) {
        id -> BigInt,
        tenant -> Text,
        name -> Text,
        query -> Text,
        auto_assign_ds_id -> Nullable<BigInt>,
        auto_assign_action_type -> Nullable<Text>,
        auto_assign_weight -> Nullable<Integer>,
        confirmation_required -> Bool,
        created_at -> BigInt,
        created_by -> Text,
        last_modified_at -> BigInt,
        last_modified_by -> Text,
        auto_assign_pending -> Bool,
        auto_assign_soak_time -> Nullable<BigInt>,
        auto_assign_health_gate -> Nullable<Text>,
        auto_assign_soak_error_threshold -> Nullable<Integer>,
        auto_assign_paused_at -> Nullable<BigInt>,
        auto_assign_pause_reason -> Nullable<Text>,
    }
}

diesel::table! {
    rollouts (id) {
        id -> BigInt,
        tenant -> Text,
        name -> Text,
        description -> Nullable<Text>,
        target_filter -> Text,
        ds_id -> BigInt,
        status -> Text,
        action_type -> Text,
        forced_time -> BigInt,
        weight -> Integer,
        start_at -> Nullable<BigInt>,
        confirmation_required -> Bool,
        is_dynamic -> Bool,
        dynamic_template -> Nullable<Text>,
        conditions -> Text,
        total_targets -> BigInt,
        approval_remark -> Nullable<Text>,
        approve_decided_by -> Nullable<Text>,
        deleted -> Bool,
        created_at -> BigInt,
        created_by -> Text,
        last_modified_at -> BigInt,
        last_modified_by -> Text,
        soak_time -> Nullable<BigInt>,
        health_gate -> Nullable<Text>,
    }
}

diesel::table! {
    auto_assign_soaks (action_id) {
        action_id -> BigInt,
        filter_id -> BigInt,
        target_id -> BigInt,
        started_at -> BigInt,
        ends_at -> BigInt,
        booted_slot -> Nullable<Text>,
        rollback_reason -> Nullable<Text>,
        outcome -> Text,
        reason -> Nullable<Text>,
        decided_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    rollout_soaks (action_id) {
        action_id -> BigInt,
        rollout_id -> BigInt,
        group_id -> BigInt,
        target_id -> BigInt,
        started_at -> BigInt,
        ends_at -> BigInt,
        booted_slot -> Nullable<Text>,
        rollback_reason -> Nullable<Text>,
        outcome -> Text,
        reason -> Nullable<Text>,
        decided_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        tenant -> Text,
        at -> BigInt,
        actor -> Text,
        action -> Text,
        object_type -> Text,
        object_id -> Text,
        object_name -> Text,
        detail -> Text,
    }
}

diesel::table! {
    target_health_events (id) {
        id -> BigInt,
        target_id -> BigInt,
        attr_key -> Text,
        old_value -> Nullable<Text>,
        new_value -> Nullable<Text>,
        installed_ds_id -> Nullable<BigInt>,
        at -> BigInt,
    }
}

diesel::table! {
    rollout_groups (id) {
        id -> BigInt,
        rollout_id -> BigInt,
        position -> Integer,
        name -> Text,
        description -> Nullable<Text>,
        target_filter -> Nullable<Text>,
        target_percentage -> Double,
        confirmation_required -> Bool,
        conditions -> Text,
        status -> Text,
        total_targets -> BigInt,
        is_dynamic -> Bool,
        created_at -> BigInt,
        created_by -> Text,
        last_modified_at -> BigInt,
        last_modified_by -> Text,
    }
}

diesel::table! {
    rollout_targets (group_id, target_id) {
        group_id -> BigInt,
        target_id -> BigInt,
    }
}

diesel::joinable!(rollout_groups -> rollouts (rollout_id));
diesel::joinable!(rollout_targets -> rollout_groups (group_id));
diesel::joinable!(rollout_targets -> targets (target_id));
diesel::joinable!(rollouts -> distribution_sets (ds_id));

diesel::table! {
    ui_sessions (token_sha256) {
        token_sha256 -> Text,
        user_id -> BigInt,
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::joinable!(ui_sessions -> users (user_id));

diesel::table! {
    /// Messages owed to DMF targets, written by triggers (`migrations/*/…_dmf`).
    dmf_outbox (id) {
        id -> BigInt,
        tenant -> Text,
        controller_id -> Text,
        address -> Text,
        kind -> Text,
    }
}

diesel::table! {
    /// The command last confirmed by the broker for each DMF target.
    dmf_sent (target_id) {
        target_id -> BigInt,
        action_id -> Nullable<BigInt>,
        topic -> Nullable<Text>,
    }
}

diesel::table! {
    /// Each tenant's key for signing artifact download links (`store::download_links`).
    download_link_keys (tenant) {
        tenant -> Text,
        secret -> Text,
        created_at -> BigInt,
    }
}

diesel::joinable!(dmf_sent -> targets (target_id));
diesel::joinable!(actions -> targets (target_id));
diesel::joinable!(actions -> distribution_sets (ds_id));
diesel::joinable!(action_statuses -> actions (action_id));
diesel::joinable!(action_status_messages -> action_statuses (action_status_id));
diesel::joinable!(artifacts -> software_modules (sm_id));
diesel::joinable!(ds_modules -> distribution_sets (ds_id));
diesel::joinable!(ds_modules -> software_modules (sm_id));
diesel::joinable!(software_modules -> sm_types (sm_type_id));
diesel::joinable!(distribution_sets -> ds_types (ds_type_id));
diesel::joinable!(target_attributes -> targets (target_id));
diesel::joinable!(target_health_events -> targets (target_id));
diesel::joinable!(target_health_events -> distribution_sets (installed_ds_id));
diesel::joinable!(sm_metadata -> software_modules (sm_id));
diesel::joinable!(ds_type_sm_types -> sm_types (sm_type_id));
diesel::joinable!(ds_type_sm_types -> ds_types (ds_type_id));
diesel::joinable!(target_tag_assignments -> target_tags (tag_id));
diesel::joinable!(target_tag_assignments -> targets (target_id));
diesel::joinable!(ds_tag_assignments -> ds_tags (tag_id));
diesel::joinable!(ds_tag_assignments -> distribution_sets (ds_id));
diesel::joinable!(target_metadata -> targets (target_id));
diesel::joinable!(ds_metadata -> distribution_sets (ds_id));
diesel::joinable!(target_type_ds_types -> target_types (target_type_id));
diesel::joinable!(target_type_ds_types -> ds_types (ds_type_id));

diesel::allow_tables_to_appear_in_same_query!(
    tenants,
    download_link_keys,
    tenant_configs,
    users,
    target_types,
    sm_types,
    ds_types,
    ds_type_sm_types,
    software_modules,
    sm_metadata,
    artifacts,
    distribution_sets,
    ds_modules,
    targets,
    target_attributes,
    actions,
    action_statuses,
    action_status_messages,
    target_tags,
    target_tag_assignments,
    ds_tags,
    ds_tag_assignments,
    target_metadata,
    ds_metadata,
    target_type_ds_types,
    target_filter_queries,
    rollouts,
    rollout_groups,
    rollout_targets,
    rollout_soaks,
    target_health_events,
    auto_assign_soaks,
    ui_sessions,
    dmf_outbox,
    dmf_sent,
);
