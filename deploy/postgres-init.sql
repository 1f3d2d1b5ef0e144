-- The dibao subscriber (civil affairs) keeps its roster in a database of its own.
CREATE DATABASE civil_affairs OWNER povreg;
