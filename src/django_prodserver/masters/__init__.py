"""Server programs that ``prodserver`` hands over to (see :mod:`django_prodserver.handover`).

Each module here runs a server's own command-line program with only the changes the docs
list, and imports nothing of Django or of the project: the master process stays as small as
the native program's, and the workers import the project themselves.
"""
