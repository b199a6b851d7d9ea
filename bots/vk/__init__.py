"""VK: the community's messages through the ``vk_api`` package (Bots Long Poll or Callback
API). See adapter.py."""

from bots.vk.adapter import NAME, WEBHOOK_PATH, VkMessenger

__all__ = ["NAME", "WEBHOOK_PATH", "VkMessenger"]
