DROP TABLE download_link_keys;
