# -*- coding: utf-8 -*-
# Copyright: lighttpd_tensorflow.serving contributors
# Apache License 2.0 (see LICENSE)
"""Thin glue between the plain-Python tuning functions and Ansible's filter API."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import functools

from ansible.errors import AnsibleFilterError
from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils.tuning import TuningError


def wrap(name, func):
    """Call func, turning its TuningError into AnsibleFilterError prefixed with the filter name."""

    @functools.wraps(func)
    def filter_(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except TuningError as err:
            raise AnsibleFilterError("%s: %s" % (name, err))
        except TypeError as err:  # wrong number or names of arguments
            raise AnsibleFilterError("%s: %s" % (name, err))

    return filter_
